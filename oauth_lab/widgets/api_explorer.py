"""API explorer: pick an agent-API action and a token, send, and read the call and the answer.

The list of actions (and the scope each needs) comes from the server itself, so the widget never
disagrees with it. The answer is shown as the resource server gave it — status, the RFC 6750
``WWW-Authenticate`` challenge, the JSON body — plus one sentence saying what it means.
"""
from __future__ import annotations

import json

import ipywidgets as widgets
import requests

from .base import LabWidget, escape, mask

NO_TOKEN = "(no token)"


def pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:  # not JSON: show it as it came
        return body


def block(title: str, text: str) -> str:
    return (f"<h4>{escape(title)}</h4><pre style='max-height:20em;overflow:auto;"
            f"white-space:pre-wrap'>{escape(text)}</pre>")


def request_text(request: requests.PreparedRequest) -> str:
    """The request as sent, the bearer token masked (it is a password for the API)."""
    lines = [f"{request.method} {request.url}"]
    if "Authorization" in request.headers:
        scheme, _, secret = request.headers["Authorization"].partition(" ")
        lines.append(f"Authorization: {scheme} {mask(secret)}")
    lines.append(f"Content-Type: {request.headers.get('Content-Type')}")
    return "\n".join(lines) + "\n\n" + pretty(request.body.decode())  # json= always sends a body


def reading(response: requests.Response, scope: str) -> str:
    """One sentence on what the status means for the learner."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    why = body.get("error_description") or str(body.get("error", ""))
    if response.status_code == 200:
        return f"allowed: the token carries {scope} (or a scope that includes it)"
    if response.status_code == 401:
        return f"no valid token: {why}"
    if response.status_code == 403:
        return f"the token lacks scope {scope}: ask for a token that carries it"
    if response.status_code == 400 and isinstance(body.get("error"), dict):
        return f"the token is fine but the payload is not: {body['error'].get('message')}"
    return f"unexpected answer {response.status_code}: {why or response.reason}"


class ApiExplorer(LabWidget):
    def __init__(self, lab, tokens: dict[str, str]):
        super().__init__()
        self.lab, self.tokens = lab, dict(tokens)
        listed = requests.get(f"{lab.url}/v3.5/agent/actions", timeout=5).json()["actions"]
        self.scopes = {entry["action"]: entry["scope"] for entry in listed}
        self.action = widgets.Dropdown(description="action", options=[
            (f"{entry['action']} (needs {entry['scope']})", entry["action"]) for entry in listed])
        self.token = widgets.Dropdown(description="token", options=[*self.tokens, NO_TOKEN])
        self.payload = widgets.Textarea(value="{}", description="JSON body",
                                        layout=widgets.Layout(width="40em", height="6em"))
        self.send = widgets.Button(description="Send", button_style="primary", icon="paper-plane")
        self.send.on_click(lambda _: self.call())
        self.view = widgets.HTML()
        self.children = [self.action, self.token, self.payload, self.send, self.view]
        self.last_response: requests.Response | None = None
        self.summary = "not sent yet"

    def call(self) -> requests.Response | None:
        """What the Send button does; returns the response (None if the payload is not JSON)."""
        try:
            payload = json.loads(self.payload.value)
        except ValueError as error:
            # Nothing is sent and the textarea is left alone, so the learner can fix the typo.
            self.summary = "payload is not valid JSON: nothing sent"
            self.view.value = (f"<p style='color:#b00020'><b>✗ The JSON body is not valid JSON "
                               f"({escape(error)}). Nothing was sent.</b></p>")
            return None
        secret = self.tokens.get(self.token.value)
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        self.last_response = requests.post(self.lab.api(self.action.value), json=payload,
                                           headers=headers, timeout=10)
        status = self.last_response.status_code
        self.summary = f"POST {self.action.value} with {self._token_label()} → {status}"
        self.view.value = self._html(self.last_response)
        return self.last_response

    def _token_label(self) -> str:
        return f"token {self.token.value!r}" if self.token.value in self.tokens else "no token"

    def _html(self, response: requests.Response) -> str:
        status = f"HTTP {response.status_code} {response.reason}"
        challenge = response.headers.get("WWW-Authenticate")
        answer = status + (f"\nWWW-Authenticate: {challenge}" if challenge else "")
        colour = "#1a7f37" if response.ok else "#b00020"
        return (f"<p style='color:{colour}'><b>{escape(reading(response, self.scopes[self.action.value]))}"
                f"</b></p>" + block("Request", request_text(response.request))
                + block("Answer", f"{answer}\n\n{pretty(response.text)}"))

    def text(self) -> str:
        return self.summary
