"""The instructor's dashboard in a real browser (Debian's Chromium): sign in with the secret, watch
the class's exchanges and progress arrive, see the common errors, reset a stuck learner."""
from __future__ import annotations

import re

import requests
from playwright.sync_api import expect

from flows import APP_CALLBACK, REPORTS, authorization_url, query_of, token
from oauth_lab.user_agent import UserAgent
from workshop import SECRET

HOSTILE_NAME = '<img src=x onerror="document.title=\'owned\'">'


def reused_code(world):
    code = query_of(UserAgent().authorize(authorization_url(world, scope="customers:ro")))["code"]
    for _ in range(2):
        token(world, {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CALLBACK})


def test_the_dashboard_follows_the_class_and_resets_a_stuck_learner(class_server, page, artifacts):
    page.goto(f"{class_server.url}/instructor")
    page.get_by_label(re.compile("Instructor secret")).fill("not the secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not the instructor secret")
    page.get_by_label(re.compile("Instructor secret")).fill(SECRET)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Class dashboard")).to_be_visible()
    expect(page.locator("#limits")).to_contain_text(re.compile(r"\d+ of at most \d+ learners"))

    grace, hostile = class_server.join("Grace"), class_server.join(HOSTILE_NAME)
    reused_code(grace)
    reused_code(hostile)
    grace_row = page.locator(f"#learners tr[data-tenant='{grace.tenant}']")
    exchanged = list(page.locator("#learners th").all_inner_texts()).index("exchanged a code")
    expect(grace_row.locator("td").nth(exchanged)).to_have_text("✓")
    expect(page.locator("#errors")).to_contain_text(re.compile(r"\d+ learners hit invalid_grant: This code was already used"))
    expect(page.locator("#feed .exchange").filter(has_text="Grace: POST /token → 400").first).to_be_visible()
    # A learner's name is text, never markup.
    expect(page.locator(f"#learners tr[data-tenant='{hostile.tenant}'] td").first).to_have_text(HOSTILE_NAME)
    assert page.title() != "owned"
    page.screenshot(path=str(artifacts / "instructor-dashboard.png"), full_page=True)

    registered = requests.post(f"{grace.url}/register", json={
        "client_name": "Stuck app", "redirect_uris": [APP_CALLBACK], "grant_types": ["client_credentials"],
        "scope": "customers:ro"}).json()
    page.once("dialog", lambda dialog: dialog.accept())
    grace_row.get_by_role("button", name="Reset").click()
    stuck = (registered["client_id"], registered["client_secret"])
    for _ in range(50):
        answer = token(grace, {"grant_type": "client_credentials"}, auth=stuck)
        if answer.status_code == 401:
            break
        page.wait_for_timeout(100)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert token(grace, {"grant_type": "client_credentials"}, auth=REPORTS).status_code == 200

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("fetch('/instructor/feed').then(answer => answer.status)") == 401
