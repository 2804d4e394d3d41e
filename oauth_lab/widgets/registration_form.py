"""Registration form: the Developer Console as a widget, sending RFC 7591 registration requests.

The same request the console page and any app would send (``POST /register`` with JSON); the
answer — client id, and the secret shown only this once — lands in ``form.value``.
"""
from __future__ import annotations

import ipywidgets as widgets
import requests
import traitlets

from mock_server.clients import APP_TYPES, app_metadata

from .base import LabWidget, escape
from .scope_picker import ScopePicker


class RegistrationForm(LabWidget):
    value = traitlets.Dict()  # the registration response (201), or {} before / after an error

    def __init__(self, lab, name: str = "My Reports", app_type: str = "server-side",
                 redirect_uris: str = "http://127.0.0.1:8765/callback", scopes=("customers:ro",)):
        super().__init__()
        self._url = lab.endpoint("registration")
        self.name = widgets.Text(value=name, description="App name")
        self.app_type = widgets.ToggleButtons(options=list(APP_TYPES), value=app_type,
                                              description="App type")
        self.redirect_uris = widgets.Textarea(value=redirect_uris, description="Redirect URIs",
                                              placeholder="one per line, or comma-separated")
        self.scopes = ScopePicker(lab, value=scopes)
        self.register = widgets.Button(description="Register app", button_style="primary")
        self.register.on_click(lambda _b: self.submit())
        self._result = widgets.HTML()
        self.error = ""
        self.children = [self.name, self.app_type, self.redirect_uris, widgets.HTML("<b>Access scopes</b>"),
                         self.scopes, self.register, self._result]

    def metadata(self) -> dict:
        """The form as RFC 7591 client metadata — made as the server's console makes it."""
        return app_metadata(self.name.value, self.app_type.value, self.redirect_uris.value,
                            self.scopes.value)

    def submit(self) -> dict:
        answer = requests.post(self._url, json=self.metadata(), timeout=5)
        body = answer.json()
        if answer.status_code == 201:
            self.value, self.error = body, ""
            secret = body.get("client_secret")
            self._result.value = (f"<p>Client Id <code>{escape(body['client_id'])}</code><br>"
                                  + (f"Client Secret <code>{escape(secret)}</code> — copy it now: "
                                     "it is shown only once." if secret else
                                     "No secret: a browser app cannot prove which app it is; PKCE ties each "
                                     "of its codes to the request that asked for it.") + "</p>")
        else:  # keep what the learner typed; say what to fix
            self.value = {}
            self.error = f"{answer.status_code} {body.get('error')}: {body.get('error_description')}"
            self._result.value = f"<p style='color:#c81e1e'>{escape(self.error)}</p>"
        return self.value

    def text(self) -> str:
        if self.value:
            secret = "secret shown once" if self.value.get("client_secret") else "no secret (public)"
            return f"Registered {self.value['client_name']!r}: client_id {self.value['client_id']}, {secret}"
        return f"Registration refused — {self.error}" if self.error else "Not registered yet: click Register app."
