"""Running the product in its deployment profiles: the scaled profile's process manager (:mod:`deploy.scaled_profile`)
and the nginx configuration it renders (``deploy/nginx/``)."""
