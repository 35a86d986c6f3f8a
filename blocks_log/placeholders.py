"""What a stored value that cannot be read back reads as (SPEC section 5):
a placeholder saying why, never an error; the rest of its row, and of its
run, read as usual.

- :class:`Pickled`: a pickle, read without the opt-in to unpickle it;
- :class:`Undecodable`: a value corrupt or forged, or a pickle that may
  not be unpickled;
- :class:`DamagedChunk`: the numbers of a packed chunk that does not
  check;
- :class:`DamagedBatch`: the values one commit wrote into a block, in a
  batch that cannot be read.

"""


class Pickled(object):
    """A pickled value read without the pickle opt-in: left unpickled.

    Attributes
    ----------
    data : bytes
        The pickle. ``pickle.loads(value.data)`` runs whatever code the
        pickle names: do it only for a database you trust.

    """
    __slots__ = ('data',)

    def __init__(self, data):
        self.data = data

    def __repr__(self):
        return ('<pickled value, {} bytes: open the log with '
                'allow_pickle=True to read it>'.format(len(self.data)))

    def __eq__(self, other):
        return isinstance(other, Pickled) and other.data == self.data

    def __hash__(self):
        return hash(self.data)


class Undecodable(object):
    """A stored value that cannot be read back: corrupt, forged, or a pickle
    that may not be unpickled. The rest of its row reads normally.

    Attributes
    ----------
    data : object
        The stored value as the database holds it.
    reason : str
        Why it could not be read.

    """
    __slots__ = ('data', 'reason')

    def __init__(self, data, reason):
        self.data = data
        self.reason = reason

    def __repr__(self):
        return '<undecodable value: {}>'.format(self.reason)

    def __eq__(self, other):
        return (isinstance(other, Undecodable) and other.data == self.data
                and other.reason == self.reason)

    def __hash__(self):
        return hash((self.data, self.reason))


class DamagedChunk(Undecodable):
    """Numbers packed in a chunk that does not check (damaged, or
    forged): what stands for them, once at the chunk's first time (or at
    each of its times, when only its values are damaged). The rest of the
    run reads as usual.

    Attributes
    ----------
    first, last : int
        The times the chunk says it spans.
    count : int
        How many values it says it holds.
    reason : str
        Why it does not check.

    """
    __slots__ = ('first', 'last', 'count')

    def __init__(self, first, last, count, reason):
        Undecodable.__init__(self, None, 'a damaged chunk ({} values '
                             'claimed at times {} to {}): {}'.format(
                                 count, first, last, reason))
        self.first, self.last, self.count = first, last, count


class DamagedBatch(DamagedChunk):
    """The values one commit wrote into one block, in a batch of the head
    that cannot be read (damaged, or forged): what stands for them, at the
    batch's first time, or at the first time a read looks at if the batch
    held several times. Which keys and times it held cannot be told: a
    read of some keys gets it for each of them.

    Attributes
    ----------
    first : int
        The first time of the batch.
    reason : str
        Why it cannot be read.

    """
    __slots__ = ()

    def __init__(self, first, reason):
        Undecodable.__init__(self, None, 'a damaged batch (the values of a '
                             'commit from time {}): {}'.format(first, reason))
        self.first, self.last, self.count = first, None, None
