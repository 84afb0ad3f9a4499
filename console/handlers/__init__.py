"""The staff back end's handlers, one module per area (handoffs, feedback, status, search, analytics, accounts).

Two front doors mount them: the help-desk console (:mod:`console.app`, session cookie + CSRF token) and the staff
API (:mod:`staff_api.app`, bearer token). A front door authenticates the request, puts the acting officer's name in
``request.ctx.staff`` and the :class:`~console.handlers.common.StaffDeps` in ``app.ctx.deps``; the handlers do the
rest the same way whichever door the request came through.
"""
