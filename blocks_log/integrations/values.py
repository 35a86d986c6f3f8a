"""What frameworks report, as a log keeps it."""


def plain(value):
    """`value` as a log should keep it: a one-element tensor or array
    (PyTorch, NumPy, JAX) as its Python number; anything else as it is."""
    item = getattr(value, 'item', None)
    if item is not None and not isinstance(value, (int, float)):
        size = getattr(value, 'size', None)
        if callable(size):  # torch.Tensor.size() is its shape
            size = value.numel()
        if size == 1:
            return item()
    return value


def log_values(row, values, skip=()):
    """Put `values` (a mapping) into `row`, each made :func:`plain`, but
    for the names in `skip`."""
    for name, value in values.items():
        if name not in skip:
            row[name] = plain(value)


def end_epoch(log):
    """Move the epoch counters as Blocks' main loop does at an epoch's
    end: ``epochs_done`` one more, ``_epoch_ends`` the iteration."""
    status = log.status
    status['epochs_done'] += 1
    status['_epoch_ends'] = list(status.get('_epoch_ends') or []) + [
        status['iterations_done']]
