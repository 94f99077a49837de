"""Exit 0 when the local exporter answers ``/healthz`` (over HTTP, or HTTPS when TLS is on), else 1.

For container health checks (the Dockerfile's ``HEALTHCHECK`` and the compose file): it asks 127.0.0.1 on the
given port, tries HTTP first and HTTPS second, and does not verify the certificate (it checks that this process
serves, not who it is; a client certificate requirement makes it fail, so use ``/healthz`` without mTLS then).
"""

from __future__ import annotations

import argparse
import ssl
import urllib.error
import urllib.request


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("--port", type=int, default=9787, help="the exporter's port on 127.0.0.1 (default 9787)")
    parser.add_argument("--timeout", type=float, default=4.0, help="seconds per attempt (default 4)")


def run(args: argparse.Namespace) -> int:
    """Probe /healthz over HTTP, then HTTPS."""
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    for scheme, context in (("http", None), ("https", unverified)):
        try:
            with urllib.request.urlopen(f"{scheme}://127.0.0.1:{args.port}/healthz", timeout=args.timeout,
                                        context=context) as response:
                return 0 if response.status == 200 else 1
        except urllib.error.HTTPError as exc:
            # 401: it serves, behind basic auth (the check has no password); anything else: it said it is unhealthy
            return 0 if exc.code == 401 else 1
        except (OSError, ValueError):
            continue
    return 1
