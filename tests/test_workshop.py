"""A class server (python -m mock_server --workshop, real granian workers): joining, every
learner's world isolated from every other, the instructor's dashboard, hostile clients."""
from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from flows import (ADMIN_TOOLS, APP_CALLBACK, REPORTS, RESOURCE_SERVER, WIDGET, assert_oauth_error,
                   authorization_url, call_api, code_tokens, dpop_key, dpop_proof, pkce_pair, push,
                   pushed_authorization_url, query_of, token)
from oauth_lab.user_agent import UserAgent, forms_of
from workshop import CLASS_CODE, SECRET, ClassServer

INSTRUCTOR = {"Authorization": f"Bearer {SECRET}"}


def client_credentials(world, auth=REPORTS):
    return token(world, {"grant_type": "client_credentials", "scope": "customers:ro"}, auth=auth)


def register(world, **metadata):
    answer = requests.post(f"{world.url}/register", json={
        "client_name": "Night Shift", "redirect_uris": [APP_CALLBACK],
        "grant_types": ["authorization_code", "client_credentials"], "scope": "customers:ro", **metadata})
    assert answer.status_code == 201, answer.text
    return answer.json()


# --- starting a class ---------------------------------------------------------------------------------

def test_the_banner_says_what_learners_type_and_where_the_instructor_goes(class_server):
    banner = class_server.output
    assert f"class code          {CLASS_CODE}" in banner
    assert f'setup(class_server="{class_server.url}", class_code="{CLASS_CODE}"' in banner
    assert f"instructor          {class_server.url}/instructor" in banner
    assert f"instructor secret   {SECRET}" in banner


def test_a_class_server_listens_on_every_interface_only_when_told(tmp_path):
    refused = subprocess.run([sys.executable, "-m", "mock_server", "--workshop", "--host", "0.0.0.0",
                              "--db", str(tmp_path / "class.sqlite3")], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--all-interfaces" in refused.stderr
    assert not (tmp_path / "class.sqlite3").exists()  # refused before anything was made


# --- joining ----------------------------------------------------------------------------------------

def test_joining_gives_a_world_whose_metadata_answers_at_every_address(class_server):
    learner = class_server.join("Grace")
    assert learner.url == f"{class_server.url}/t/{learner.tenant}"
    inserted = requests.get(f"{class_server.url}/.well-known/oauth-authorization-server/t/{learner.tenant}")
    appended = requests.get(f"{learner.url}/.well-known/oauth-authorization-server")
    oidc = requests.get(f"{learner.url}/.well-known/openid-configuration")
    assert inserted.status_code == appended.status_code == oidc.status_code == 200
    assert inserted.json() == appended.json() == oidc.json()
    assert inserted.json()["issuer"] == learner.url  # RFC 8414 §3.3: byte for byte
    assert inserted.json()["token_endpoint"] == f"{learner.url}/token"


@pytest.mark.parametrize("body, status, error", [
    ({"class_code": "fern-0000", "name": "Mallory"}, 403, "access_denied"),
    ({"class_code": CLASS_CODE.upper(), "name": "Mallory"}, 403, "access_denied"),
    ({"name": "Mallory"}, 400, "invalid_request"),
    ({"class_code": 1234, "name": "Mallory"}, 400, "invalid_request"),
    ({"class_code": CLASS_CODE, "name": ""}, 400, "invalid_request"),
    ({"class_code": CLASS_CODE, "name": "x" * 65}, 400, "invalid_request"),
    ({"class_code": CLASS_CODE, "name": "Eve", "redirect_uris": ["http://evil.example/cb"]}, 400, "invalid_request"),
    ([CLASS_CODE], 400, "invalid_request"),
])
def test_joining_refuses_a_wrong_class_code_and_malformed_requests(class_server, body, status, error):
    answer = requests.post(f"{class_server.url}/workshop/join", json=body)
    assert_oauth_error(answer, status, error)
    assert "learner_key" not in answer.text


def test_a_joining_learners_app_callback_is_registered_for_the_demo_apps(class_server):
    callback = "https://hub.example/user/grace/oauth-app/callback"
    answer = requests.post(f"{class_server.url}/workshop/join", json={
        "class_code": CLASS_CODE, "name": "Grace", "redirect_uris": [callback]})
    world = type("World", (), {"url": answer.json()["issuer"]})
    got = requests.get(authorization_url(world, redirect_uri=callback, scope="customers:ro"))
    assert got.status_code == 200 and "Sign in" in got.text  # accepted: on to the login page


def test_a_redirect_uri_named_when_joining_gets_an_untrusted_apps_treatment(class_server):
    """Anyone with the class code names the demo apps' redirect URIs of their own world: the server
    did not choose them, so errors go there only after a sign-in and a click (RFC 9700 §4.11.2),
    never straight from a link on the class's trusted address."""
    evil = "https://evil.example/phish"
    answer = requests.post(f"{class_server.url}/workshop/join", json={
        "class_code": CLASS_CODE, "name": "Eve", "redirect_uris": [evil]})
    world = type("World", (), {"url": answer.json()["issuer"]})
    url = authorization_url(world, redirect_uri=evil, response_type="x", scope=None, state=None)
    first = requests.get(url, allow_redirects=False)
    assert first.status_code == 200 and "Location" not in first.headers and "Sign in" in first.text
    browser = UserAgent()
    page = browser.sign_in_if_asked(browser.session.get(url, allow_redirects=False), world.url)
    assert page.status_code == 200 and "Leave Fernhollow Accounts?" in page.text and "evil.example" in page.text
    # The loopback callback the server registered itself stays trusted: errors go back at once.
    trusted = requests.get(authorization_url(world, response_type="x", scope=None), allow_redirects=False)
    assert trusted.status_code == 302 and trusted.headers["Location"].startswith(APP_CALLBACK + "?error=")


@pytest.mark.parametrize("path, status", [
    ("/%2569nstructor", 404), ("/%69nstructor", 200), ("/{world}/%252Ewell-known/openid-configuration", 404),
    ("/{world}/%2Ewell-known/openid-configuration", 200), ("/{world}/%2e%2e/%2e%2e/instructor", 404),
])
def test_a_path_is_percent_decoded_once(class_server, path, status):
    """As the single-learner server and any proxy in front decode it: a proxy's rule on
    /instructor must not be bypassed with %2569, nor a literal %25 become another character."""
    learner = class_server.join("Ada")
    got, _, body = raw_get(class_server, path.format(world=f"t/{learner.tenant}"))
    assert got == status, body


@pytest.mark.parametrize("since", [str(2**63), str(10**30), "-1", "1e3"])
def test_a_message_number_past_what_the_database_holds_is_refused(class_server, since):
    learner = class_server.join("Ada")
    assert_oauth_error(requests.get(f"{learner.url}/_mock/transcript", params={"since": since},
                                    headers=learner.admin), 400, "invalid_request")
    assert_oauth_error(requests.get(f"{class_server.url}/instructor/feed", params={"since": since},
                                    headers=INSTRUCTOR), 400, "invalid_request")


def test_the_clock_stops_short_of_the_years_a_date_can_hold(class_server):
    learner = class_server.join("Ada")
    revoked = client_credentials(learner).json()["access_token"]
    requests.post(f"{learner.url}/revoke", data={"token": revoked}, auth=REPORTS)
    answers = [requests.post(f"{learner.url}/_mock/clock", json={"advance": 10**9}, headers=learner.admin)
               for _ in range(260)]  # 260 × 31 years would pass the year 9999
    refused = [a for a in answers if a.status_code != 200]
    assert refused and all(a.status_code == 400 for a in refused)
    assert "years" in refused[0].json()["error_description"]
    clock = requests.get(f"{learner.url}/_mock/clock", headers=learner.admin)
    assert clock.status_code == 200 and int(clock.json()["iso"][:4]) < 9999
    assert_oauth_error(call_api(learner, "list_customers", revoked), 401, "invalid_token")


# --- isolation: nothing of one world works in another ---------------------------------------------------

def test_a_token_of_one_learner_is_useless_in_another_world(class_server):
    ada, bob = class_server.join("Ada"), class_server.join("Bob")
    ada_token = client_credentials(ada).json()["access_token"]
    assert call_api(ada, "list_customers", ada_token).status_code == 200
    refused = call_api(bob, "list_customers", ada_token)
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert requests.post(f"{bob.url}/introspect", data={"token": ada_token},
                         auth=RESOURCE_SERVER).json() == {"active": False}
    assert requests.post(f"{ada.url}/introspect", data={"token": ada_token},
                         auth=RESOURCE_SERVER).json()["active"] is True


def test_dpop_proofs_and_pushed_requests_are_one_learners_in_every_worker(class_server):
    """RFC 9449 §11.1, RFC 9126 §4: a proof seen by one worker is a replay at the other; a pushed
    request is found, and used once, whichever worker the browser reaches; another world knows
    neither."""
    ada, bob = class_server.join("Ada"), class_server.join("Bob")
    proof = dpop_proof(ada, dpop_key(), "POST", "/token", iat=int(time.time()))
    data = {"grant_type": "client_credentials", "scope": "customers:ro"}
    assert token(ada, data, headers={"DPoP": proof}).json()["token_type"] == "DPoP"
    for _ in range(6):  # two workers: some of these reach the other one
        assert_oauth_error(token(ada, data, headers={"DPoP": proof}), 400, "invalid_dpop_proof")
    request_uri = push(ada, WIDGET, scope="customers:ro", code_challenge=pkce_pair()[1],
                       code_challenge_method="S256").json()["request_uri"]
    refused = requests.get(pushed_authorization_url(bob, request_uri, WIDGET), allow_redirects=False)
    assert refused.status_code == 400 and "invalid_request_uri" in refused.text
    assert "code" in query_of(UserAgent().authorize(pushed_authorization_url(ada, request_uri, WIDGET)))
    for _ in range(4):
        again = requests.get(pushed_authorization_url(ada, request_uri, WIDGET), allow_redirects=False)
        assert again.status_code == 400 and "used already" in again.text


def test_an_app_and_a_code_of_one_world_are_unknown_in_another(class_server):
    ada, bob = class_server.join("Ada"), class_server.join("Bob")
    app = register(ada)
    assert client_credentials(ada, (app["client_id"], app["client_secret"])).status_code == 200
    assert_oauth_error(client_credentials(bob, (app["client_id"], app["client_secret"])), 401, "invalid_client")
    page = requests.get(authorization_url(bob, client_id=app["client_id"]), allow_redirects=False)
    assert page.status_code == 400 and "text/html" in page.headers["Content-Type"]  # never a redirect

    location = UserAgent().authorize(authorization_url(ada, scope="customers:ro"))
    code = query_of(location)["code"]
    assert_oauth_error(token(bob, {"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": APP_CALLBACK}), 400, "invalid_grant")
    assert token(ada, {"grant_type": "authorization_code", "code": code,
                       "redirect_uri": APP_CALLBACK}).status_code == 200


def test_a_session_cookie_of_one_world_signs_nobody_in_in_another(class_server):
    ada, bob = class_server.join("Ada"), class_server.join("Bob")
    browser = UserAgent()
    assert "Allow" in browser.consent_page(authorization_url(ada, scope="customers:ro")).text
    (cookie,) = [c for c in browser.session.cookies if c.name.startswith("mock_oauth_session_")]
    assert cookie.path == f"/t/{ada.tenant}"  # the browser sends it to Ada's world only
    replayed = requests.get(authorization_url(bob, scope="customers:ro"),
                            cookies={cookie.name: cookie.value})
    assert "Sign in" in replayed.text and "Allow" not in replayed.text


def test_a_learner_key_opens_only_its_own_admin_routes(class_server):
    ada, bob = class_server.join("Ada"), class_server.join("Bob")
    assert requests.get(f"{ada.url}/_mock/clock", headers=ada.admin).status_code == 200
    for headers in ({}, bob.admin, {"Authorization": f"Basic {ada.key}"}, {"Authorization": "Bearer "}):
        for path in ("/_mock/clock", "/_mock/transcript"):
            assert_oauth_error(requests.get(f"{ada.url}{path}", headers=headers), 401, "invalid_token")
    assert_oauth_error(requests.post(f"{ada.url}/_mock/clock", json={"advance": 60}, headers=bob.admin),
                       401, "invalid_token")


def test_a_learner_asks_about_the_tokens_of_their_own_world_only(class_server):
    """POST /_mock/introspect (the exercise checks' question about a refresh token) in a class."""
    ada, bob = class_server.join("Ada"), class_server.join("Bob")
    refresh_token = code_tokens(ada)["refresh_token"]
    mine = requests.post(f"{ada.url}/_mock/introspect", data={"token": refresh_token}, headers=ada.admin)
    assert mine.status_code == 200 and mine.json()["token_type"] == "refresh_token", mine.text
    assert_oauth_error(requests.post(f"{ada.url}/_mock/introspect", data={"token": refresh_token},
                                     headers=bob.admin), 401, "invalid_token")
    assert requests.post(f"{bob.url}/_mock/introspect", data={"token": refresh_token},
                         headers=bob.admin).json() == {"active": False}


def test_one_learners_fast_forward_moves_nobody_elses_clock(class_server):
    ada, bob = class_server.join("Ada"), class_server.join("Bob")
    ada_token, bob_token = (client_credentials(w).json()["access_token"] for w in (ada, bob))
    before = requests.get(f"{bob.url}/_mock/clock", headers=bob.admin).json()["now"]
    moved = requests.post(f"{ada.url}/_mock/clock", json={"advance": 7200}, headers=ada.admin).json()["now"]
    assert moved >= before + 7200
    for _ in range(6):  # every worker process sees it
        assert call_api(ada, "list_customers", ada_token).status_code == 401
        assert call_api(bob, "list_customers", bob_token).status_code == 200
    assert requests.get(f"{bob.url}/_mock/clock", headers=bob.admin).json()["now"] < before + 60


def test_a_transcript_shows_only_its_own_learners_exchanges(class_server):
    ada, bob = class_server.join("Ada"), class_server.join("Bob")
    code_tokens(ada, scope="customers:ro", state="ada-flow")
    code_tokens(bob, scope="customers:ro", state="bob-flow")
    ada_messages = requests.get(f"{ada.url}/_mock/transcript", headers=ada.admin).json()["messages"]
    flow = requests.get(f"{ada.url}/_mock/transcript", params={"flow": "state:ada-flow"},
                        headers=ada.admin).json()["messages"]
    assert [m["path"].split("?")[0] for m in flow] == ["/authorize", "/login", "/authorize", "/authorize", "/token"]
    assert "bob-flow" not in str(ada_messages) and "ada-flow" in str(ada_messages)
    assert requests.get(f"{bob.url}/_mock/transcript", params={"key": "state:ada-flow"},
                        headers=bob.admin).json()["messages"] == []


# --- hostile clients ------------------------------------------------------------------------------------

def raw_get(server, path: str, host: str | None = None):
    """A request with this exact path (no client-side normalisation of '..' or '%2e')."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", host or f"127.0.0.1:{server.port}")
    connection.endheaders()
    answer = connection.getresponse()
    return answer.status, answer.getheader("Content-Type"), answer.read()


@pytest.mark.parametrize("path", [
    "/t/../_mock/clock", "/t/%2e%2e/token", "/t/..%2f..%2fetc/token", "/t/ABCDEF123456/token",
    "/t/000000000000/token", "/t/000000000000/_mock/transcript", "/t//token", "/t/%00/token",
    "/.well-known/oauth-authorization-server/t/..", "/token", "/_mock/clock",
])
def test_traversal_and_unknown_tenant_ids_answer_404(class_server, path):
    status, content_type, body = raw_get(class_server, path)
    assert status == 404 and content_type.startswith("application/json"), body


def test_an_unknown_learners_page_is_a_404_page(class_server):
    status, content_type, _ = raw_get(class_server, "/t/000000000000/authorize")
    assert status == 404 and content_type.startswith("text/html")


def test_a_foreign_host_is_refused_everywhere(class_server):
    learner = class_server.join("Ada")
    for path in (f"/t/{learner.tenant}/.well-known/jwks.json", "/instructor/feed"):
        status, content_type, body = raw_get(class_server, path, host="rebound.example")
        assert status == 400 and b"invalid_request" in body, (path, body)


@pytest.mark.parametrize("where, status, kind", [
    ("token", 413, "application/json"), ("login", 413, "text/html"), ("join", 413, "application/json")])
def test_an_oversized_body_is_refused_413_in_the_endpoints_shape(class_server, where, status, kind):
    learner = class_server.join("Ada")
    url = f"{class_server.url}/workshop/join" if where == "join" else f"{learner.url}/{where}"
    answer = requests.post(url, data=b"a=" + b"x" * 300_000,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == status and answer.headers["Content-Type"].startswith(kind)


def test_clients_trickling_their_bodies_delay_nobody(class_server):
    learner = class_server.join("Ada")
    trickling = []
    for _ in range(12):  # more than all workers' threads together
        slow = socket.create_connection(("127.0.0.1", class_server.port))
        slow.sendall(f"POST /t/{learner.tenant}/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\n"
                     "grant_type=".encode())
        trickling.append(slow)
    try:
        started = time.monotonic()
        for _ in range(8):
            assert client_credentials(learner).status_code == 200
        assert time.monotonic() - started < 3
        trickling[0].sendall(b"client_credentials&scope=customers:ro&x")  # the body, complete
        trickling[0].settimeout(5)
        assert trickling[0].recv(100).startswith(b"HTTP/1.1 401")  # answered (no credentials)
    finally:
        for slow in trickling:
            slow.close()


def test_wrong_passwords_are_rate_limited_per_learner_and_user(class_server):
    ada, bob = class_server.join("Ada"), class_server.join("Bob")

    def sign_in(world, password):
        session = requests.Session()
        page = session.get(f"{world.url}/login")
        form = forms_of(page.text)[0]
        return session.post(f"{world.url}/login", data=dict(form.fields, username="jane", password=password),
                            allow_redirects=False).status_code

    assert [sign_in(ada, "guess") for _ in range(10)] == [401] * 10
    assert sign_in(ada, "jane-password") == 429  # even the right one, for a while
    assert sign_in(bob, "jane-password") == 303  # Bob's jane is another user
    assert sign_in(ada, "another-guess") == 429


# --- codes and refresh tokens raced ----------------------------------------------------------------------

def at_once(*calls):
    """Run the calls at the same instant (threads released by one barrier); their results."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i):
        barrier.wait()
        results[i] = calls[i]()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def race_a_code(world, redeem_at=(None, None)):
    """Redeem one code twice at the same instant (each at `redeem_at` URL, default the world's)."""
    location = UserAgent().authorize(authorization_url(world, scope="customers:ro"))
    data = {"grant_type": "authorization_code", "code": query_of(location)["code"], "redirect_uri": APP_CALLBACK}
    return at_once(*(lambda url=url: requests.post(f"{url or world.url}/token", data=data, auth=REPORTS)
                     for url in redeem_at))


def race_a_refresh(world, refresh_at=(None, None)):
    refresh_token = code_tokens(world, scope="customers:ro")["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return at_once(*(lambda url=url: requests.post(f"{url or world.url}/token", data=data, auth=REPORTS)
                     for url in refresh_at))


def assert_exactly_one_won(world, answers):
    assert sorted(a.status_code for a in answers) == [200, 400], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 400)
    assert loser.json()["error"] == "invalid_grant"
    return next(a for a in answers if a.status_code == 200).json()


def test_a_code_redeemed_twice_at_once_buys_one_token_and_reuse_revokes_it(class_server):
    world = class_server.join("Ada")
    for _ in range(4):
        winner = assert_exactly_one_won(world, race_a_code(world))
        # The loser waited for the winner's commit, then saw a reuse: the winner's token is revoked.
        assert call_api(world, "list_customers", winner["access_token"]).status_code == 401


def test_a_refresh_token_rotated_twice_at_once_rotates_once_and_ends_the_family(class_server):
    world = class_server.join("Ada")
    for _ in range(4):
        winner = assert_exactly_one_won(world, race_a_refresh(world))
        # The second presenter was reuse (RFC 9700 §4.14.2): the whole family ends, the new one too.
        again = token(world, {"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]})
        assert_oauth_error(again, 400, "invalid_grant")
        assert call_api(world, "list_customers", winner["access_token"]).status_code == 401


def test_the_agent_api_data_is_one_learners_in_every_worker(class_server):
    ada, bob = class_server.join("Ada"), class_server.join("Bob")
    admin = code_tokens(ada, client=ADMIN_TOOLS, scope="agents--all:ro agents--all:rw webhooks.configuration:rw",
                        user=("ada", "ada-password"))["access_token"]
    hooks = at_once(*(lambda: call_api(ada, "register_webhook", admin, {
        "url": "https://app.example/hook", "action": "incoming_chat", "secret_key": "s"}) for _ in range(6)))
    assert sorted(hook.json()["id"] for hook in hooks) == [f"wh-{n}" for n in range(1, 7)]  # none twice
    assert call_api(ada, "update_agent", admin, {"id": "sam", "job_title": "Night Lead"}).status_code == 200
    for _ in range(6):  # every worker answers from the same data
        agents = {a["id"]: a for a in call_api(ada, "list_agents", admin).json()["agents"]}
        assert agents["sam"]["job_title"] == "Night Lead"
    bob_admin = code_tokens(bob, client=ADMIN_TOOLS, scope="agents--all:ro", user=("ada", "ada-password"))
    bob_agents = {a["id"]: a for a in call_api(bob, "list_agents", bob_admin["access_token"]).json()["agents"]}
    assert bob_agents["sam"]["job_title"] == "Support Agent"  # Bob's world is his own


# --- behind a proxy ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("trusted", [False, True])
def test_forwarded_for_counts_only_behind_a_trusted_proxy(tmp_path, trusted):
    server = ClassServer(str(tmp_path / "class.sqlite3"), 1, None, *(["--trust-proxy"] if trusted else []))
    try:
        def join(address, code):
            return requests.post(f"{server.url}/workshop/join", json={"class_code": code, "name": "X"},
                                 headers={"X-Forwarded-For": address}).status_code
        assert [join("203.0.113.7", "guess") for _ in range(20)] == [403] * 20
        assert join("203.0.113.7", CLASS_CODE) == 429  # that address waits
        # Another client: trusted, the proxy says who it is; untrusted, it is the same 127.0.0.1.
        assert join("198.51.100.2", CLASS_CODE) == (201 if trusted else 429)
    finally:
        server.stop()


# --- the instructor's dashboard (its page in a real browser: tests/browser/test_instructor.py) ----------

def test_the_dashboard_and_its_feed_need_the_instructor_secret(class_server):
    assert_oauth_error(requests.get(f"{class_server.url}/instructor/feed"), 401, "invalid_token")
    learner = class_server.join("Ada")
    forged = {"Authorization": f"Bearer {learner.key}"}
    assert_oauth_error(requests.get(f"{class_server.url}/instructor/feed", headers=forged), 401, "invalid_token")
    assert_oauth_error(requests.post(f"{class_server.url}/instructor/learners/{learner.tenant}/reset",
                                     json={}, headers=forged), 401, "invalid_token")
    page = requests.get(f"{class_server.url}/instructor", cookies={"mock_instructor": "forged"})
    assert "Instructor secret" in page.text and "Learners (" not in page.text
    wrong = requests.post(f"{class_server.url}/instructor/login", data={"secret": "guess"}, allow_redirects=False)
    assert wrong.status_code == 401 and "mock_instructor" not in wrong.cookies


def test_wrong_instructor_secrets_are_rate_limited(tmp_path):
    server = ClassServer(str(tmp_path / "class.sqlite3"), 1)
    try:
        def sign_in(secret):
            return requests.post(f"{server.url}/instructor/login", data={"secret": secret},
                                 allow_redirects=False).status_code

        def feed(secret):
            return requests.get(f"{server.url}/instructor/feed",
                                headers={"Authorization": f"Bearer {secret}"}).status_code

        assert [sign_in("guess") for _ in range(5)] + [feed("guess") for _ in range(5)] == [401] * 10
        assert sign_in(SECRET) == 429 and feed(SECRET) == 429  # even the right one, for a while
    finally:
        server.stop()


def test_the_instructor_signs_in_to_a_session_that_expires_and_ends_at_logout(class_server):
    def sign_in():
        browser = requests.Session()
        answer = browser.post(f"{class_server.url}/instructor/login", data={"secret": SECRET},
                              allow_redirects=False)
        assert answer.status_code == 303
        return browser, answer.headers["Set-Cookie"]

    (first, first_cookie), (second, _) = sign_in(), sign_in()
    assert first.cookies["mock_instructor"] != second.cookies["mock_instructor"]  # not the secret's hash
    assert "Max-Age=" in first_cookie and "HttpOnly" in first_cookie and "SameSite=Strict" in first_cookie
    assert first.get(f"{class_server.url}/instructor/feed").status_code == 200
    assert first.post(f"{class_server.url}/instructor/logout", allow_redirects=False).status_code == 303
    replayed = requests.get(f"{class_server.url}/instructor/feed",
                            cookies={"mock_instructor": first.cookies.get("mock_instructor") or "x"})
    assert replayed.status_code == 401
    assert second.get(f"{class_server.url}/instructor/feed").status_code == 200  # another session


@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/instructor"), ("POST", "/instructor/login"),
                                          ("GET", "/instructor/feed"), ("POST", "/workshop/join")])
def test_the_class_pages_are_never_framed_or_cached(class_server, method, path):
    answer = requests.request(method, f"{class_server.url}{path}", data={"secret": "guess"})
    assert answer.headers["Cache-Control"] == "no-store"
    if answer.headers["Content-Type"].startswith("text/html"):
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    signed_in = requests.get(f"{class_server.url}/instructor", headers=INSTRUCTOR)
    assert signed_in.headers["X-Frame-Options"] == "DENY" and signed_in.headers["Cache-Control"] == "no-store"


def test_the_feed_shows_each_learners_progress_and_the_most_common_errors(class_server):
    grace, linus = class_server.join("Grace"), class_server.join("Linus")
    before = requests.get(f"{class_server.url}/instructor/feed", headers=INSTRUCTOR).json()["last_seq"]
    register(grace)
    live = requests.get(f"{class_server.url}/instructor/feed", params={"since": before},
                        headers=INSTRUCTOR).json()["exchanges"]
    assert [(x["learner"], x["method"], x["path"], x["status"]) for x in live] == [
        ("Grace", "POST", "/register", 201)]
    tokens = code_tokens(grace, scope="customers:ro")
    token(grace, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    for world in (grace, linus):  # both hit a reused code
        code = query_of(UserAgent().authorize(authorization_url(world, scope="customers:ro")))["code"]
        for _ in range(2):
            token(world, {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CALLBACK})
    feed = requests.get(f"{class_server.url}/instructor/feed", headers=INSTRUCTOR).json()
    learners = {learner["tenant"]: learner for learner in feed["learners"]}
    assert learners[grace.tenant]["name"] == "Grace" and learners[grace.tenant]["active"] is True
    assert {"registered an app", "signed in", "got a code", "exchanged a code", "refreshed"} \
        <= set(learners[grace.tenant]["milestones"])
    assert "registered an app" not in learners[linus.tenant]["milestones"]
    reused = next(e for e in feed["errors"] if "already used" in e["error"])
    assert reused["error"].startswith("invalid_grant: ") and {"Grace", "Linus"} <= set(reused["names"])


def test_a_reset_gives_a_stuck_learner_a_fresh_world_and_nobody_else(class_server):
    stuck, other = class_server.join("Stuck"), class_server.join("Other")
    app = register(stuck)
    stuck_token, other_token = (client_credentials(w).json()["access_token"] for w in (stuck, other))
    requests.post(f"{stuck.url}/_mock/clock", json={"advance": 10**6}, headers=stuck.admin)
    answer = requests.post(f"{class_server.url}/instructor/learners/{stuck.tenant}/reset", json={},
                           headers=INSTRUCTOR)
    assert answer.status_code == 200
    assert_oauth_error(client_credentials(stuck, (app["client_id"], app["client_secret"])), 401, "invalid_client")
    assert call_api(stuck, "list_customers", stuck_token).status_code == 401  # no such token now
    assert abs(requests.get(f"{stuck.url}/_mock/clock", headers=stuck.admin).json()["now"] - time.time()) < 60
    assert call_api(stuck, "list_customers", client_credentials(stuck).json()["access_token"]).status_code == 200
    assert call_api(other, "list_customers", other_token).status_code == 200
    assert_oauth_error(requests.post(f"{class_server.url}/instructor/learners/000000000000/reset", json={},
                                     headers=INSTRUCTOR), 404, "not_found")


# --- the notebooks' side --------------------------------------------------------------------------------

def test_a_notebook_switches_to_the_class_server_with_one_setting(class_server, monkeypatch, tmp_path):
    import mock_server
    from oauth_lab.lab import setup

    monkeypatch.setattr("oauth_lab.lab.CLASSES", tmp_path / "classes.json")
    monkeypatch.setenv("MOCK_APP_PORT", str(mock_server.free_port()))
    monkeypatch.setenv("MOCK_CLASS_SERVER", class_server.url)
    monkeypatch.setenv("MOCK_CLASS_CODE", CLASS_CODE)
    monkeypatch.setenv("MOCK_LEARNER_NAME", "Notebook learner")
    lab = setup(seed=None)
    try:
        assert lab.issuer.startswith(f"{class_server.url}/t/") and lab.handle is None
        step = lab.transcript.mark()
        code_tokens(lab, scope="customers:ro")
        assert [m["path"].split("?")[0] for m in step.messages()][-1] == "/token"
        now = lab.clock.now()
        assert lab.clock.advance(3600) >= now + 3600
        assert setup(seed=None).issuer == lab.issuer  # the next notebook finds the same world
        monkeypatch.setenv("MOCK_CLASS_CODE", "wrong")
        monkeypatch.setattr("oauth_lab.lab.CLASSES", tmp_path / "none.json")
        with pytest.raises(RuntimeError, match="Wrong class code"):
            setup(seed=None)
    finally:
        lab.app.stop()
