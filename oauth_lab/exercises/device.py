"""09 · Devices without a browser: the polling loop (RFC 8628 §3.5).

The check runs the learner's ``poll_for_tokens(device_code, interval, wait)`` three times against
real device codes of the learner's app, and reads the polls back from the server's transcript:
Jane allows after a while; the "Check now" button on the remote cuts one wait short, so a poll
comes too soon and earns ``slow_down``; Jane denies. The ``wait`` it hands over moves the virtual
clock — and plays Jane on her phone, and the remote.
"""
from __future__ import annotations

import json
import threading

import requests

from ..checks import Exercise
from ..lab import current_lab
from ..user_agent import UserAgent, UserAgentError
from ..widgets.device_flow import KEEP_POLLING
from .support import access_token_of, introspect

MAX_WAITS = 12  # a loop that needs more than this for these scenarios never stops
STUCK_AFTER = 10  # real seconds: a loop that polls without ever waiting gets Jane's Allow then


class Stop(BaseException):
    """The check stops a loop that went wrong (raised from inside its wait). Not an Exception,
    so that a loop's own `except Exception` cannot swallow it."""


class Scenario:
    def __init__(self, client_id: str, decide_at: int, decision: str = "Allow", check_now: bool = False):
        self.lab, self.decide_at, self.decision, self.check_now = current_lab(), decide_at, decision, check_now
        answer = requests.post(self.lab.endpoint("device_authorization"), timeout=5,
                               data={"client_id": client_id, "scope": "customers:ro"})
        if answer.status_code != 200:
            raise Stop(f"the server refused device codes for {client_id!r}: {answer.json().get('error')} "
                       "(register the TV as in the notebook, with customers:ro)")
        self.grant, self.waited = answer.json(), 0
        self.excused = None  # the poll that came early because the button cut its wait short
        self.since = self.lab.transcript.last_seq()

    def polls(self) -> list[tuple[int, str]]:
        """(virtual time, answer) of each poll with this device code, from the server's record."""
        found = self.lab.transcript.flow(since=self.since, device_code=self.grant["device_code"])
        return [(m["time"], json.loads(m["response_body"]).get("error", "tokens")) for m in found
                if m["path"] == "/token" and m["method"] == "POST"]

    def wait(self, seconds) -> None:
        polls = self.polls()
        if polls and polls[-1][1] not in KEEP_POLLING:
            raise Stop(f"your loop went on after {polls[-1][1]}: RFC 8628 §3.5 says stop polling then")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise Stop(f"wait({seconds!r}): pass the number of seconds to wait")
        if self.waited >= MAX_WAITS:
            raise Stop(f"your loop was still polling after {MAX_WAITS} waits")
        self.waited += 1
        early = self.check_now and polls and self.excused is None  # the remote's button, once
        if early:
            self.excused = len(polls)
        self.lab.clock.advance(1 if early else seconds)
        if self.waited == self.decide_at:
            self.jane(self.decision)

    def jane(self, decision: str) -> None:
        try:
            UserAgent("jane", "jane-password", self.lab.reach()).approve_device(
                self.grant["verification_uri"], self.grant["user_code"], decision)
        except UserAgentError:
            pass  # already decided: the code is used up

    def run(self, answer):
        """The learner's result (or exception), with a watchdog that ends a loop that never waits."""
        watchdog = threading.Timer(STUCK_AFTER, self.jane, args=("Allow",))
        watchdog.start()
        try:
            return answer(self.grant["device_code"], self.grant["interval"], self.wait), None
        except Exception as error:  # noqa: BLE001 — the loop gave up: fine when Jane said no
            return None, error
        finally:
            watchdog.cancel()


def _spacing_problem(polls: list[tuple[int, str]], interval: int, excused: int | None) -> str | None:
    """Each poll at least `interval` after the one before, 5 s more after each slow_down (the
    poll the button made early is excused)."""
    for number, ((before, answer), (after, _)) in enumerate(zip(polls, polls[1:]), 1):
        if answer == "slow_down":
            interval += 5
        if after - before < interval and number != excused:
            return (f"your loop polled {after - before} s after a poll answered {answer}; wait "
                    f"{interval} s (RFC 8628 §3.5: the interval, plus 5 s after each slow_down)")
    return None


def _allowed(answer, client_id: str, check_now: bool) -> str | None:
    scenario = Scenario(client_id, decide_at=4 if check_now else 2, check_now=check_now)
    result, error = scenario.run(answer)
    polls = scenario.polls()
    if len(polls) > MAX_WAITS + 1:
        return f"your loop polled {len(polls)} times without calling wait(interval) before each poll"
    if problem := _spacing_problem(polls, scenario.grant["interval"], scenario.excused):
        return problem + (" — after the Check now button had cut one wait short" if check_now else "")
    if getattr(error, "error", None) in KEEP_POLLING:
        return f"your loop stopped at {error.error}: that answer means poll again (RFC 8628 §3.5)"
    if error is not None:
        return f"your loop raised {type(error).__name__} ({error}); in this run Jane allows the TV after a while"
    if not polls or polls[-1][1] != "tokens":
        return "your function returned before the server issued tokens: poll until it answers with them"
    facts = introspect(access_token_of(result))
    if not facts.get("active") or facts.get("client_id") != client_id:
        return "return the token response your last poll received"
    return None


def _denied(answer, client_id: str) -> str | None:
    scenario = Scenario(client_id, decide_at=1, decision="Deny")
    result, _error = scenario.run(answer)
    answers = [a for _, a in scenario.polls()]
    if "access_denied" not in answers:
        return "after Jane denied, poll once more: the server's access_denied is how the device learns it"
    if answers.count("access_denied") > 1:
        return "your loop polled again after access_denied: RFC 8628 §3.5 says stop polling then"
    if isinstance(result, dict) and result.get("access_token"):
        return "Jane denied: there are no tokens to return"
    return None


def _polling(answer, client_id):
    if not callable(answer):
        return "expected a function poll_for_tokens(device_code, interval, wait)"
    try:
        return (_allowed(answer, client_id, check_now=False) or _allowed(answer, client_id, check_now=True)
                or _denied(answer, client_id))
    except Stop as stop:
        return str(stop)


polling = Exercise(
    "09 · the polling loop", _polling,
    hint="loop: wait(interval), then tv.fetch_token(lab.endpoint('token'), device_code=device_code, "
         "include_client_id=True); return the tokens; on OAuth2Error look at .error: "
         "authorization_pending → again, slow_down → interval += 5 and again, anything else → raise.",
    solution="solutions/09_polling.py", context=("tv_client_id",),
    success="your loop waits the interval, slows down by 5 s when told, returns the tokens, and "
            "stops when Jane says no.")
