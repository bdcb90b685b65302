"""Django's pymemcache backend, keeping its connection between requests."""

from django.core.cache.backends.memcached import PyMemcacheCache


class PersistentPyMemcacheCache(PyMemcacheCache):
    """Django closes cache connections after every request, so each request paid a TCP connect
    to memcached (a quarter of JSON-RPC's own cost for get_best_references).  Cache objects are
    per thread, so one kept connection per thread is safe; pymemcache reconnects after an error,
    as Django's own pylibmc backend relies on."""

    def close(self, **kwargs) -> None:
        pass
