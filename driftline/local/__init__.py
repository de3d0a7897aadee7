"""Local mode: the same template, state machine and handlers, running on one machine.

moto emulates the AWS APIs; the modules here give moto's passive resources behaviour, one module per
AWS service (Lambda runs handlers, EventBridge delivers to targets, SageMaker runs jobs, SNS writes
email to an outbox, CloudFormation deploys ``template.yaml``).
"""
