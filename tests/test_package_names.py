"""No subpackage or module of ``leadscore`` is named like a library function.

Importing ``leadscore.X`` binds ``X`` on the ``leadscore`` package, over whatever the package's
lazy ``__getattr__`` would return: a package ``leadscore.predict`` hid the library function
``leadscore.predict(...)`` once anything imported it (hence ``predictive`` and ``reports``).
"""

from __future__ import annotations

import pkgutil

import leadscore
from leadscore import library


def test_no_module_shadows_a_library_function() -> None:
    modules = {info.name for info in pkgutil.iter_modules(leadscore.__path__)}
    assert modules & set(leadscore.__all__) == set()


def test_library_functions_survive_importing_every_package() -> None:
    import leadscore.predictive.predict  # noqa: F401
    import leadscore.reports.build  # noqa: F401

    assert leadscore.predict is library.predict
    assert leadscore.report is library.report
    assert leadscore.train is library.train
