"""focusflow: FOCUS cost reports and Prometheus usage into databases, metrics and object storage.

The package is layered (see ``.importlinter``): ``focus`` is the data model; ``sources`` and
``sinks`` move rows in and out; ``exporter``, ``scraper``, ``k8s_export`` and ``allocation`` are the
jobs; ``operator`` and ``cli`` wire the jobs to Kubernetes and to the terminal.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
