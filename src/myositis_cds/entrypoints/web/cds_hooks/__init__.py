"""The CDS Hooks 2.0 service of the web application (docs/cds-hooks.md): routes
(:mod:`.service`), the EHR's JWT and CORS (:mod:`.security`), prefetch and FHIR fetches
(:mod:`.prefetch`), cards (:mod:`.cards`) and the registered clients (:mod:`.config`)."""

__all__: list[str] = []
