"""The registration pack: the protocol becomes the registered plan (``bitframe register``).

:func:`~bitframe.register.pack.write_pack` writes the protocol and statistical analysis plan
(SPIRIT 2025, HTML and PDF), the WHO Trial Registration Data Set draft with an ISRCTN text, and
the to-do list of what registration needs that the protocol lacks. Layer 4, beside ``report``,
whose HTML/PDF writer and stylesheet it reuses.
"""

from bitframe.register.pack import RegistrationPack, write_pack

__all__ = ["RegistrationPack", "write_pack"]
