"""Scope picker: LiveChat's scopes grouped by resource, described, with hierarchy and role warnings.

The catalog comes from the server (``GET /scopes``), as a real provider publishes it in its docs.
"""
from __future__ import annotations

import ipywidgets as widgets
import requests
import traitlets

from mock_server.scopes import role_allows

from .base import LabWidget, escape


class ScopePicker(LabWidget):
    """Pick scopes by clicking, or by code: ``picker.value = ("chats--all:ro",)``."""

    value = traitlets.Tuple()  # the chosen scope names, in catalog order

    def __init__(self, lab, offer=None, value=(), role: str = "agent", user: str = "jane"):
        super().__init__()
        catalog = requests.get(f"{lab.url}/scopes", timeout=5).json()["scopes"]
        offered = set(offer) if offer is not None else None
        self.catalog = {s["name"]: s for s in catalog if offered is None or s["name"] in offered}
        self.role, self.user = role, user
        self.checkboxes = {name: widgets.Checkbox(value=name in value, description=name, indent=False)
                           for name in self.catalog}
        self._notes = {name: widgets.HTML() for name in self.catalog}
        self._warning = widgets.HTML()
        for box in self.checkboxes.values():
            box.observe(self._on_click, names="value")
        self.children = self._rows() + [self._warning]
        self._on_click()

    def _rows(self) -> list:
        rows, group = [], None
        for name, scope in self.catalog.items():
            if scope["resource"] != group:
                group = scope["resource"]
                rows.append(widgets.HTML(f"<b>{escape(group)}</b>"))
            rows.append(widgets.HBox([self.checkboxes[name], self._notes[name]]))
        return rows

    @traitlets.validate("value")
    def _catalog_order(self, proposal):
        """Whatever is assigned, `.value` holds offered scopes only, in catalog order."""
        return tuple(name for name in self.catalog if name in proposal["value"])

    @traitlets.observe("value")
    def _value_set(self, change):
        for name, box in self.checkboxes.items():
            box.value = name in change["new"]

    def _on_click(self, _change=None):
        self.value = tuple(n for n, box in self.checkboxes.items() if box.value)
        included = self.included()
        for name, scope in self.catalog.items():
            note = escape(scope["description"])
            if scope["role"] != "agent":
                note += f" <i>({escape(scope['role'])} only)</i>"
            if name in included and name not in self.value:
                note += " — <b>✓ included</b> by " + escape(", ".join(included[name]))
            self._notes[name].value = note
        self._warning.value = "".join(f"<div>⚠ {escape(w)}</div>" for w in self.warnings())

    def included(self) -> dict[str, list[str]]:
        """Scopes granted implicitly by a chosen one (``rw`` ⊇ ``ro``, ``all`` ⊇ ``access`` ⊇ ``my``)."""
        found: dict[str, list[str]] = {}
        for chosen in self.value:
            for implied in self.catalog[chosen]["implies"]:
                found.setdefault(implied, []).append(chosen)
        return found

    def warnings(self) -> list[str]:
        # The server's own rule (roles and their order live in mock_server.scopes).
        return [f"{name} needs the {self.catalog[name]['role']} role: {self.user} ({self.role}) "
                f"cannot grant it, so the server will answer invalid_scope."
                for name in self.value if not role_allows(self.role, name)]

    def scope(self) -> str:
        """The chosen scopes as the `scope` parameter wants them: space-separated (RFC 6749 §3.3)."""
        return " ".join(self.value)

    def text(self) -> str:
        chosen = ", ".join(self.value) or "none"
        extra = sorted(set(self.included()) - set(self.value))
        lines = [f"Scopes chosen: {chosen}" + (f" (also included: {', '.join(extra)})" if extra else "")]
        return "\n".join(lines + [f"⚠ {w}" for w in self.warnings()])
