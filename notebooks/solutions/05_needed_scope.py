# 05 · read the challenge: a 403 names the scope the call needs (RFC 6750 §3.1).
import re

import requests

machine = requests.post(lab.endpoint("token"), data={"grant_type": "client_credentials"},
                        auth=("fernhollow-reports", "reports-secret")).json()["access_token"]
answer = requests.post(lab.api("update_agent"), json={}, headers={"Authorization": f"Bearer {machine}"})
my_answer = re.search(r'scope="([^"]+)"', answer.headers["WWW-Authenticate"]).group(1)
