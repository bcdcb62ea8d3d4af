"""The exchange's logic, free of any web framework: department keys, the
access policy, grants, verification indexes, the hash-chained audit log and
rate limiting.  ``onesource.web.exchange`` puts HTTP in front of it.
"""
