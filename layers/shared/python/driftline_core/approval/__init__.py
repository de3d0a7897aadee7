"""The manual approval: signed links, the decision (by link or in the registry), the request email, the page."""
