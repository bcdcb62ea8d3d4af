"""A local S3-protocol server (moto's standalone server) for the object-storage warehouse tests.

One server per test process, started on first use on 127.0.0.1 at a free port; each
caller gets its own bucket.  The hub finds it the way an operator's deployment finds S3:
the standard AWS environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``), which botocore (under s3fs) reads.
Without moto the tests skip with the reason, or fail under ONESOURCE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import uuid

import pytest

KEYS = {"AWS_ACCESS_KEY_ID": "onesource-test", "AWS_SECRET_ACCESS_KEY": "onesource-test"}


def need_moto() -> None:
    """Skip (or fail under ONESOURCE_REQUIRE_SERVICES=1) when moto's server is missing."""
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        reason = f"moto[server] is not installed ({exc}); `uv sync --extra dev` installs it"
        if os.environ.get("ONESOURCE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}, and ONESOURCE_REQUIRE_SERVICES=1 requires the S3 tests")
        pytest.skip(reason)


@functools.cache
def endpoint() -> str:
    """The server's URL; started once per process, stopped at exit."""
    need_moto()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    atexit.register(server.stop)
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def aws_env() -> dict[str, str]:
    """The environment an operator would set to point the hub at this server."""
    return {"AWS_ENDPOINT_URL": endpoint(), "AWS_DEFAULT_REGION": "us-east-1", **KEYS}


def new_bucket(mp: pytest.MonkeyPatch, prefix: str = "onesource") -> str:
    """Set the AWS environment (undone by ``mp``) and create a fresh, empty bucket."""
    for name, value in aws_env().items():
        mp.setenv(name, value)
    import boto3

    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name
