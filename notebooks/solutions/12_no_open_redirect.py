# 12 · no open redirector (RFC 9700 §4.11.1): forward only to the page's own origin. Compare the
# scheme and the whole netloc, a user name before @ included: 127.0.0.1 on another port, a user name
# that looks like the shop, and //host each name another origin.
from urllib.parse import urlsplit

from oauth_lab.exercises import security_lab


def may_forward(page, target):
    return urlsplit(target)[:2] == urlsplit(page)[:2]  # (scheme, netloc)


security_lab.no_open_redirect.check(may_forward)
