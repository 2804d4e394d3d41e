# 12 · a referrer policy for the welcome page: no-referrer, RFC 9700 §4.2.4's example, sends no
# Referer at all. (A policy that sends another site only the origin keeps the code home too.)
from oauth_lab.exercises import security_lab

welcome_policy = "no-referrer"

security_lab.referrer_policy.check(welcome_policy)
