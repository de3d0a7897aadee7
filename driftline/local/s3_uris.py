"""``s3://bucket/key`` addresses, as requests and stack outputs name S3 objects and prefixes."""

from __future__ import annotations


def split_s3_uri(uri: str, error: type[Exception] = ValueError) -> tuple[str, str]:
    """The bucket and the key (or prefix) of ``uri``; anything else raises ``error``, worded as SageMaker's
    ``ClientError`` so a job or an endpoint can fail with it as it is."""
    if not uri.startswith("s3://"):
        raise error(f"ClientError: not an S3 URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key
