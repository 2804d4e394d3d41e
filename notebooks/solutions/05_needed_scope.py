# 05 · read the challenge: a 403 names the scope the call needs (RFC 6750 §3.1).
import re

import requests

from oauth_lab.flows import authorization_code_flow

reports = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret="reports-secret")
answer = reports.post(lab.api("update_agent"), json={})
my_answer = re.search(r'scope="([^"]+)"', answer.headers["WWW-Authenticate"]).group(1)
