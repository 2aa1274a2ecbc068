#!/usr/bin/env python3
"""Prints an admin session of `otp serve --demo` (for scripts/api-check.sh).

The demo's administrator signs in through the JSON API with their login
password and a code read from the demo's virtual tokens page, as
examples/python/api_client.py does; the sealed session goes to stdout.
The key and the password come from the environment (OTP_API_KEY,
OTP_LOGIN_PASSWORD), never the command line.

    python3 scripts/api-admin-session.py URL ADMIN_ID ADMIN_SERIAL
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "python"))

from api_client import Api, DemoTokens  # noqa: E402


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    url, admin, serial = sys.argv[1:]
    api = Api(url, os.environ["OTP_API_KEY"])
    code = DemoTokens(url).press(serial)
    signed = api.sign_in(admin, os.environ["OTP_LOGIN_PASSWORD"], code)
    print(signed["admin_session"])


if __name__ == "__main__":
    main()
