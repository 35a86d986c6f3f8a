"""What a read selects: keys, and a range of times; each checked as it
comes, before anything is read.

"""
import operator
from numbers import Integral


def check_keys(keys):
    """Return `keys` as a list of strings, each once (a key named again is
    dropped), or ``None`` for all keys.

    Raises
    ------
    TypeError
        If `keys` is a single string, or holds something that is not one.

    """
    if keys is None:
        return None
    if isinstance(keys, (str, bytes)):
        raise TypeError("keys must be a collection of strings, not the single "
                        "string {!r}; write [{!r}]".format(keys, keys))
    keys = list(keys)
    for key in keys:
        if not isinstance(key, str):
            raise TypeError("keys must be strings, got {!r} ({})"
                            .format(key, type(key).__name__))
    return list(dict.fromkeys(keys))


def check_range(start, stop):
    """Return `start` and `stop`, the bounds of a range of times, as
    ``int`` (or ``None``): a numpy integer would reach SQL as the bytes of
    its buffer, which compare past every time.

    Raises
    ------
    ValueError
        If either is neither ``None`` nor a non-negative integer.

    """
    for name, bound in (('start', start), ('stop', stop)):
        if bound is not None and (not isinstance(bound, Integral) or
                                  bound < 0):
            raise ValueError("{} must be a non-negative integer or None, "
                             "got {!r}".format(name, bound))
    return (None if start is None else operator.index(start),
            None if stop is None else operator.index(stop))


def in_range(time, start, stop):
    """Whether `time` lies in ``[start, stop)``; ``None`` bounds are open."""
    return ((start is None or time >= start) and
            (stop is None or time < stop))
