#!/usr/bin/env python3
"""A bank system that is not written in Rust, calling `otp serve`'s JSON API.

It validates a login code, then walks the manual's token exchange for a
customer (screens 3 to 6) as an administrator, through the API alone:

    sign in as the administrator (login password + a code of their token)
    -> begin the exchange for the customer
    -> a code from the customer's current token
    -> the new token's serial, a code from it, the approval password
    -> the old token is refused, the new one accepted.

Python 3.8+, standard library only. Secrets never go on the command line:

    OTP_API_KEY            an API key of admin scope (`otp bank api-key create --scope admin`)
    OTP_LOGIN_PASSWORD     the administrator's login password     (else asked)
    OTP_APPROVAL_PASSWORD  the administrator's approval password  (else asked)

Codes (and serials) are typed at the prompt as the token shows them; against
`otp serve --demo`, `--demo` reads them from the demo's virtual tokens page
instead (the demo only: a real bank's server never shows a token's code).

    otp serve --demo --listen 127.0.0.1:8080    # prints the demo keys and passwords
    OTP_API_KEY=otpk_... OTP_LOGIN_PASSWORD=... OTP_APPROVAL_PASSWORD=... \\
        python3 examples/python/api_client.py --url http://127.0.0.1:8080 --demo \\
        --admin-serial <the banner's "sign in as" token>

Exits 0 only if every answer was the one the manual expects.
"""

import argparse
import getpass
import html
import http.cookiejar
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class Problem(Exception):
    """An RFC 9457 problem answered by the API."""

    def __init__(self, status, body):
        self.status = status
        self.body = body
        self.reason = body.get("reason") if isinstance(body, dict) else None
        super().__init__(f"{status} {self.reason}: {body.get('detail') if isinstance(body, dict) else body}")


class Api:
    """The JSON API under `/api/v1`, with an API key and, once signed in, an admin session."""

    def __init__(self, base, key):
        self.base = base.rstrip("/") + "/api/v1"
        self.key = key
        self.session = None

    def call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if self.session:
            headers["OTP-Admin-Session"] = self.session
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"detail": raw.decode(errors="replace")}
            if e.headers.get("Content-Type", "").startswith("application/problem+json"):
                raise Problem(e.code, body) from None
            raise

    def validate(self, user, code):
        return self.call("POST", "/validate", {"user": user, "code": code})

    def sign_in(self, operator, password, code):
        answer = self.call("POST", "/admin/sign-in", {"operator": operator, "password": password, "code": code})
        self.session = answer["admin_session"]
        return answer


class DemoTokens:
    """The demo's virtual tokens page (`otp serve --demo` only): press "1", read the display."""

    DEVICE = re.compile(r'<p class="serial">([^<]+)</p>')
    CSRF = re.compile(r'name="csrf" value="([^"]+)"')
    SHOWN = re.compile(r'<p class="serial">([^<]+)</p><p class="display">([^<]*)</p>')

    def __init__(self, base):
        self.url = base.rstrip("/") + "/demo/tokens"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def _page(self, form=None):
        data = urllib.parse.urlencode(form).encode() if form else None
        with self.opener.open(urllib.request.Request(self.url, data=data), timeout=30) as response:
            return response.read().decode()

    def serials(self):
        return [html.unescape(s) for s in self.DEVICE.findall(self._page())]

    def press(self, serial):
        page = self._page()
        csrf = html.unescape(self.CSRF.search(page).group(1))
        shown = dict(self.SHOWN.findall(self._page({"csrf": csrf, "serial": serial})))
        code = shown.get(serial, "").strip()
        if not code:
            raise SystemExit(f"the demo page shows no code for {serial}")
        return code

    def serial_ending(self, masked):
        """The one serial whose last four characters are the masked serial's."""
        tail = masked[-4:]
        found = [s for s in self.serials() if s.endswith(tail)]
        if len(found) != 1:
            raise SystemExit(f"no single demo token ends in {tail}: {found}")
        return found[0]


def secret(name, prompt):
    value = os.environ.get(name)
    return value if value else getpass.getpass(prompt)


def expect(what, got, wanted):
    if got != wanted:
        raise SystemExit(f"{what}: expected {wanted!r}, got {got!r}")
    print(f"  ok  {what}: {got}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server (default %(default)s)")
    parser.add_argument("--admin", default="W0001", help="the administrator's ID (default %(default)s)")
    parser.add_argument("--admin-serial", help="the administrator's token serial (asked if not given)")
    parser.add_argument("--user", default="W0002", help="the customer whose token is exchanged (default %(default)s)")
    parser.add_argument("--new-serial", help="the new token's serial (--demo: a free virtual token)")
    parser.add_argument("--demo", action="store_true", help="read codes from otp serve --demo's tokens page")
    args = parser.parse_args()

    key = os.environ.get("OTP_API_KEY")
    if not key:
        raise SystemExit("set OTP_API_KEY to an API key of admin scope")
    api = Api(args.url, key)
    demo = DemoTokens(args.url) if args.demo else None

    def code_of(serial, who):
        if demo:
            return demo.press(serial)
        return input(f"code shown by {who}'s token {serial}: ").strip()

    # The administrator signs in with their own password and token: an API
    # key alone is no administrator.
    print(f"sign in as {args.admin}")
    admin_serial = args.admin_serial or input(f"{args.admin}'s token serial: ").strip()
    login_password = secret("OTP_LOGIN_PASSWORD", f"{args.admin}'s login password: ")
    signed = api.sign_in(args.admin, login_password, code_of(admin_serial, args.admin))
    print(f"  ok  admin session until {signed['expires_at']}")

    # Screens 2-3: the customer's token (its serial masked: the API never
    # gives a whole serial; the demo page tells the token by its last digits).
    user = api.call("GET", f"/users/{urllib.parse.quote(args.user)}")
    print(f"  {args.user}: token {user['serial']}, {user['status']}")
    if demo:
        current_serial = demo.serial_ending(user["serial"])
    else:
        current_serial = input(f"{args.user}'s current token serial: ").strip()

    # Screen 4: a code from the token in use now.
    began = api.call("POST", "/exchanges", {"user": args.user})
    expect("exchange begun, next step", began["next"], "current_code")
    step = api.call("POST", "/exchanges/current-code", {"ticket": began["ticket"], "code": code_of(current_serial, args.user)})
    expect("current code accepted, next step", step["next"], "new_token")

    # Screen 5: the new token's serial, a code from it, the approval password.
    new_serial = args.new_serial
    if not new_serial and demo:
        users = api.call("GET", "/users?page=1&per_page=100")["users"]
        taken = {u["serial"][-4:] for u in users if u["serial"]}
        new_serial = next(s for s in demo.serials() if s[-4:] not in taken)
    elif not new_serial:
        new_serial = input("the new token's serial: ").strip()
    approval = secret("OTP_APPROVAL_PASSWORD", f"{args.admin}'s approval password: ")
    done = api.call(
        "POST",
        "/exchanges/new-token",
        {"ticket": step["ticket"], "serial": new_serial, "code": code_of(new_serial, "the new"), "password": approval},
    )
    expect("screen 6", done["result"], "switched")
    print(f"  {done['messages']['en']} / {done['messages']['ja']}")

    # The same request again commits nothing more.
    try:
        api.call("POST", "/exchanges/new-token", {"ticket": step["ticket"], "serial": new_serial, "code": "000000", "password": approval})
        raise SystemExit("a used ticket was accepted again")
    except Problem as p:
        expect("the same ticket again", p.reason, "session_used")

    # What the web banking front end calls at every login: the old token
    # is refused, the new one accepted (once its display shows a code not
    # used to register it: a new one every 30 s).
    answer = api.validate(args.user, code_of(current_serial, args.user))
    expect("validate with the old token", answer["reason"], "login_failed")
    for _ in range(40):
        answer = api.validate(args.user, code_of(new_serial, "the new"))
        if answer["reason"] != "replayed_code_current" or not demo:
            break
        time.sleep(2)
    expect("validate with the new token", answer["result"], "accepted")
    expect("the same code again", api.validate(args.user, code_of(new_serial, "the new"))["reason"], "replayed_code_current")
    print("the exchange went as the manual says")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Problem as p:
        print(f"the API refused: {p}", file=sys.stderr)
        sys.exit(1)
