"""SMART App Launch 2.x (docs/smart.md): EHR and standalone launch with PKCE (:mod:`.routes`,
:mod:`.oauth`), the EHRs registered (:mod:`.config`)."""

__all__: list[str] = []
