# 12 · headers that keep the consent page out of every other site's frame: X-Frame-Options for
# older browsers (RFC 7034), and CSP Level 2's frame-ancestors, which RFC 9700 §4.16 asks for too.
from oauth_lab.exercises import security_lab

consent_page_headers = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}

security_lab.frame_headers.check(consent_page_headers)
