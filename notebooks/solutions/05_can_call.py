# 05 · can_call: the API's status code is the answer — 401 (no valid token) and 403 (missing
# scope) mean no; anything else means the token got through.
import requests

from oauth_lab.exercises import api


def can_call(token, action):
    answer = requests.post(lab.api(action), json={}, headers={"Authorization": f"Bearer {token}"})
    return answer.status_code not in (401, 403)


api.can_call.check(can_call)
