"""Authorization URL builder: the request of RFC 6749 §4.1.1, built live, each parameter explained."""
from __future__ import annotations

from urllib.parse import urlencode

import ipywidgets as widgets
import traitlets

from .base import LabWidget, escape, html_table

EXPLAINED = {
    "response_type": "code: the app wants an authorization code (RFC 6749 §4.1.1).",
    "client_id": "Which app is asking — public, printed in the Developer Console.",
    "redirect_uri": "Where the browser returns with the code; must match a registered URI exactly.",
    "scope": "The zones of the house the app wants, space-separated (RFC 6749 §3.3).",
    "state": "A value only the app knows; it comes back unchanged, so the app can tell the answer "
             "belongs to its own request (CSRF protection, RFC 6749 §10.12).",
    "code_challenge": "PKCE: the hash of a secret the app keeps; the token request must show the "
                      "secret itself (RFC 7636).",
    "code_challenge_method": "S256: the challenge is SHA-256 of the verifier (plain is refused).",
}


# Wide enough for the longest parameter name, "code_challenge" (ipywidgets' default cuts it).
LABELS = {"description_width": "8.5em"}


class AuthorizationUrlBuilder(LabWidget):
    """Change any field (or the linked scope picker) and the URL updates: ``builder.value``."""

    value = traitlets.Unicode()

    def __init__(self, lab, client_id: str, redirect_uri: str | None = None, scopes=None,
                 state: str = "xyz-123", code_challenge: str | None = None):
        super().__init__()
        self._endpoint = lab.metadata["authorization_endpoint"]
        self.client_id = widgets.Text(value=client_id, description="client_id", style=LABELS)
        self.redirect_uri = widgets.Text(value=redirect_uri or lab.redirect_uri, description="redirect_uri", style=LABELS)
        self.scope = widgets.Text(value=scopes.scope() if hasattr(scopes, "scope") else " ".join(scopes or ()),
                                  description="scope", style=LABELS)
        self.state = widgets.Text(value=state, description="state", style=LABELS)
        self.code_challenge = widgets.Text(value=code_challenge or "", description="code_challenge", style=LABELS)
        self._url = widgets.HTML()
        fields = [self.client_id, self.redirect_uri, self.scope, self.state, self.code_challenge]
        for field in fields:
            field.observe(self._update, names="value")
        if hasattr(scopes, "observe"):  # follow a ScopePicker as the learner clicks
            scopes.observe(lambda change: setattr(self.scope, "value", " ".join(change["new"])), names="value")
        self.children = fields + [self._url]
        self._update()

    def parameters(self) -> dict:
        params = {"response_type": "code", "client_id": self.client_id.value,
                  "redirect_uri": self.redirect_uri.value, "scope": self.scope.value,
                  "state": self.state.value}
        if self.code_challenge.value:
            params.update(code_challenge=self.code_challenge.value, code_challenge_method="S256")
        return {k: v for k, v in params.items() if v}

    def _update(self, _change=None):
        params = self.parameters()
        self.value = f"{self._endpoint}?{urlencode(params)}"
        rows = [(k, v, EXPLAINED[k]) for k, v in params.items()]
        self._url.value = (f"<p><code style='word-break:break-all'>{escape(self.value)}</code></p>"
                           + html_table(rows, code=(0, 1)))

    def text(self) -> str:
        lines = [self.value] + [f"  {k} = {v}" for k, v in self.parameters().items()]
        return "\n".join(lines)
