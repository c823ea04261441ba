"""The OAuth authorization-code flow with PKCE for a user already signed in, under wrk.

One flow is two requests: ``GET /o/authorize/`` with the browser's session cookie, which
answers 302 with a code and no page because the user approved this client before (consent
remembered), then ``POST /o/token/`` from the client's server, exchanging the code with its
PKCE verifier and the client's secret for an access token, a refresh token and an id_token.

wrk's Lua keeps no state per connection, and none is needed: every 302's code goes into one
queue, and the next request wrk asks for, on whichever connection, exchanges a waiting code
before it starts another authorization. wrk's Lua has no SHA-256, so the PKCE pairs are made
here beforehand (each flow has its own verifier, challenge, state and nonce; the ``state``
sent back with the code names the pair whose verifier the exchange sends).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from bench import load

AUTHORIZE_PATH = "/o/authorize/"
TOKEN_PATH = "/o/token/"  # noqa: S105 - a path, not a secret
# A flow whose 302 carries no code (an error, the consent page, the sign-in page) or whose
# exchange answers anything but tokens with an id_token counts as rejected.
FLOW = """
local pkce = {}
for line in io.lines(PAIRS) do
  local verifier, challenge = line:match("(%S+) (%S+)")
  table.insert(pkce, {verifier, challenge})
end
local started = 0
local codes = {}
local authorize_headers = {["Cookie"] = COOKIE}
local token_headers = {
  ["Authorization"] = CLIENT_AUTH,
  ["Content-Type"] = "application/x-www-form-urlencoded",
}

request = function()
  local waiting = table.remove(codes)
  if waiting then
    local body = TOKEN_BODY .. "&code=" .. waiting[1] .. "&code_verifier=" .. waiting[2]
    return wrk.format("POST", TOKEN_PATH, token_headers, body)
  end
  started = started % #pkce + 1
  local path = AUTHORIZE .. "&state=" .. started .. "&nonce=n" .. started
    .. "&code_challenge=" .. pkce[started][2]
  return wrk.format("GET", path, authorize_headers)
end

response = function(status, headers, body)
  if status == 302 then
    local location = headers["Location"] or ""
    local code = location:match("[?&]code=([^&]+)")
    local state = tonumber(location:match("[?&]state=(%d+)"))
    if code and state and pkce[state] then
      table.insert(codes, {code, pkce[state][1]})
      return
    end
  elseif status == 200 and body:find('"id_token"', 1, true)
      and body:find('"access_token"', 1, true) then
    completed = completed + 1
    return
  end
  rejected = rejected + 1
end
"""


def pkce_pair() -> tuple[str, str]:
    """RFC 7636 §4.1-4.2: a verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def write_pairs(count: int, directory: Path | None = None) -> str:
    path = Path(tempfile.mkstemp(prefix="bench-pkce-", suffix=".txt", dir=directory)[1])
    path.write_text("".join(" ".join(pkce_pair()) + "\n" for _ in range(count)))
    return str(path)


def browser_cookie(url: str, username: str, password: str) -> str:
    """Signs in through the sign-in page once, as a browser; its cookies as one header."""
    with httpx.Client(base_url=url, timeout=30) as browser:
        page = browser.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        form = {"csrfmiddlewaretoken": token, "username": username, "password": password}
        response = browser.post("/accounts/login/", data=form)
        if response.status_code != 302:
            raise RuntimeError(f"the page sign-in answered {response.status_code}, not 302")
        return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


def authorize_query(cast: dict) -> str:
    """The authorization request without its per-flow state, nonce and challenge."""
    params = {
        "response_type": "code",
        "client_id": cast["web_client_id"],
        "redirect_uri": cast["web_redirect_uri"],
        "scope": cast["web_scope"],
        "code_challenge_method": "S256",
    }
    return f"{AUTHORIZE_PATH}?{urlencode(params)}"


def token_body(cast: dict) -> str:
    return urlencode({"grant_type": "authorization_code", "redirect_uri": cast["web_redirect_uri"]})


def case(cast: dict, cookie: str, pairs: int, directory: Path | None = None) -> load.Case:
    """The wrk case of the flow, with ``pairs`` PKCE pairs (more than the run can use: past
    them, the script starts over with the first pairs' challenges)."""
    constants = {
        "PAIRS": write_pairs(pairs, directory),
        "COOKIE": cookie,
        "CLIENT_AUTH": cast["web_basic"],
        "AUTHORIZE": authorize_query(cast),
        "TOKEN_PATH": TOKEN_PATH,
        "TOKEN_BODY": token_body(cast),
    }
    lines = [f"{name} = {json.dumps(value)}" for name, value in constants.items()]
    return load.Case(AUTHORIZE_PATH, script="\n".join([*lines, FLOW]))


def one_flow(url: str, cast: dict, cookie: str) -> dict:
    """The same flow once with httpx, checking what the wrk script only counts: the 302 to
    the client's redirect URI with the code and the state, and the tokens with an id_token
    for this nonce. Returns the token response."""
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    extra = urlencode({"state": state, "nonce": nonce, "code_challenge": challenge})
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.get(f"{authorize_query(cast)}&{extra}", headers={"Cookie": cookie})
        location = response.headers.get("location", "")
        if response.status_code != 302 or not location.startswith(cast["web_redirect_uri"]):
            raise RuntimeError(f"authorize answered {response.status_code} to {location!r}")
        answer = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        if answer.get("state") != state or "code" not in answer:
            raise RuntimeError(f"authorize redirected without code or state: {location!r}")
        exchange = urlencode({"code": answer["code"], "code_verifier": verifier})
        body = f"{token_body(cast)}&{exchange}"
        headers = {
            "Authorization": cast["web_basic"],
            "Content-Type": "application/x-www-form-urlencoded",
        }
        tokens = client.post(TOKEN_PATH, content=body, headers=headers)
    data = tokens.json()
    if tokens.status_code != 200 or not {"access_token", "id_token"} <= data.keys():
        raise RuntimeError(f"the code exchange answered {tokens.status_code}: {sorted(data)}")
    claims = _claims(data["id_token"])
    if claims.get("nonce") != nonce:
        raise RuntimeError("the id_token does not carry the flow's nonce")
    return data


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def flows_per_core(run: dict) -> tuple[float | None, float | None]:
    """Flows completed per CPU second of the portal's workers, and of the workers and the
    Postgres processes together; None where the CPU could not be read."""
    worker, flows = run.get("worker_cpu_s"), run.get("completed")
    if not worker or flows is None:
        return None, None
    db = run.get("db_cpu_s")
    return flows / worker, (flows / (worker + db) if db is not None else None)


def summary(runs: list[dict]) -> dict:
    """The sample with the median flows per portal core-second (by flows per second where the
    CPU is unknown), with every sample's figure."""

    def rate(run: dict) -> float:
        portal, _ = flows_per_core(run)
        return portal if portal is not None else run["flows_per_second"]

    for run in runs:
        run["flows_per_second"] = run["completed"] / run["seconds"] if run["seconds"] else 0.0
    chosen = sorted(runs, key=rate)[len(runs) // 2]
    return {**chosen, "per_core_samples": [rate(run) for run in runs]}
