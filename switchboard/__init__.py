"""The composition root: what joins the front door (failover/) and self-help (cache/),
which never import each other (docs/architecture.md "Layers").

`app.create_app` (the one place parts are built and connected), the CLI (`__main__`,
also run as `python -m failover`), the self-help wiring and what the status reads of it
(`selfhelp_wiring`), the outage the pages show (`outage`), the callback routes and pages
(`callbacks_web`, `callback_pages`: the form is a self-help page), and the response hook
that puts the security headers on every answer (`security_headers`).
"""
