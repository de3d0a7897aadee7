"""Which SageMaker instance types carry local NVMe instance storage, so take no KMS key for their storage volume.

AWS documents the rule on every request that names a storage-volume key: CreateEndpointConfig's ``KmsKeyId``
("If you specify a value for KmsKeyId when using any nitro-based instances with local storage, the call to
CreateEndpointConfig fails"), and the ``VolumeKmsKeyId`` of CreateTrainingJob's ``ResourceConfig``,
CreateProcessingJob's ``ProcessingClusterConfig`` and a monitoring job's cluster ("You can't request a
VolumeKmsKeyId when using an instance type with local storage"). Local storage is encrypted by a hardware module on
the instance with keys it generates, and a customer key cannot be given.

The table (2026-12-07) follows:

- the SageMaker developer guide's "Instance storage volumes" page for hosting
  (https://docs.aws.amazon.com/sagemaker/latest/dg/host-instance-storage.html), which defers to its
  "Host Instance Storage Volumes Table" (https://aws.amazon.com/releasenotes/host-instance-storage-volumes-table/);
- the SageMaker developer guide's training storage page
  (https://docs.aws.amazon.com/sagemaker/latest/dg/model-train-storage-tips-considerations.html): "ML instance
  families with the NVMe-type instance storage include ml.p4d, ml.g4dn, and ml.g5", and "ML instance families that
  use EBS volumes include ml.c5 and ml.p2";
- for the families those pages do not name, the Amazon EC2 Instance Types guide's instance store specifications
  (https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html, ``co.html``, ``mo.html``, ``ac.html``), which list
  the instance store per type: within each family below, every size has the same kind (all NVMe SSD, or EBS only).

The table is per family (``ml.<family>.<size>``) because those pages are. EC2's DescribeInstanceTypes answers the
same question per type (``InstanceStorageSupported``); the tests check the table against that answer for every
instance type SageMaker's API lists. A family in neither set (newer than this table, or one the pages above do not
settle) is treated as EBS-backed: the key is sent, so a wrong guess is refused by SageMaker at once instead of
leaving a volume under SageMaker's transient key rather than the customer's.
"""

from __future__ import annotations

INSTANCE_STORE_FAMILIES = frozenset(
    {
        # General purpose, compute and memory optimized: the "d" variants add NVMe SSD instance store.
        "m5d",
        "m6gd",
        "c5d",
        "c6gd",
        "r5d",
        "r6gd",
        "r7gd",
        # Accelerated computing: NVMe SSD instance store on every size.
        "g4dn",
        "g5",
        "g6",
        "g6e",
        "g7",
        "g7e",
        "p3dn",
        "p4d",
        "p4de",
        "p5",
        "p5e",
        "p5en",
        "p6-b200",
        "p6-b300",
        "dl1",
        "trn1",
        "trn1n",
        "trn2",
    }
)
"""Families whose every size has NVMe SSD instance store: their storage volume takes no KMS key."""

EBS_ONLY_FAMILIES = frozenset(
    {
        "t2",
        "t3",
        "m4",
        "m5",
        "m6g",
        "m6i",
        "m7i",
        "m7i-flex",
        "m8g",
        "m8i",
        "m8i-flex",
        "c4",
        "c5",
        "c5n",
        "c6g",
        "c6gn",
        "c6i",
        "c6in",
        "c7g",
        "c7i",
        "c7i-flex",
        "c8g",
        "c8i",
        "c8i-flex",
        "r5",
        "r6g",
        "r6i",
        "r7i",
        "r8g",
        "r8i",
        "r8i-flex",
        "p2",
        "p3",
        "inf1",
        "inf2",
    }
)
"""Families with no instance store: SageMaker attaches an EBS volume, which a KMS key may encrypt."""


def instance_family(instance_type: str) -> str:
    """``g5`` for ``ml.g5.xlarge``, ``p6-b200`` for ``ml.p6-b200.48xlarge``; empty unless ``ml.<family>.<size>``."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        return ""
    return parts[1]


def has_instance_storage(instance_type: str) -> bool:
    """Whether ``instance_type`` has local NVMe instance storage, so a storage-volume KMS key is refused with it."""
    return instance_family(instance_type) in INSTANCE_STORE_FAMILIES
