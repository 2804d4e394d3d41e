# 05 · read the challenge: a 403 names the scope the call needs in its WWW-Authenticate header,
# scope="..." (RFC 6750 §3); a 200, or a 401 for a request without a token, names none.
import re

from oauth_lab.exercises import api


def scope_needed(answer):
    found = re.search(r'scope="([^"]*)"', answer.headers.get("WWW-Authenticate", ""))
    return found.group(1) if found else None


api.needed_scope.check(scope_needed)
