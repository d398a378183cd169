"""Progress bars of `lepot fit` (tqdm): shown on a terminal only, so logs and CI output stay clean."""


def progress_bar(total, description, enabled):
    """A tqdm bar over ``total`` structures (or steps), or a disabled one."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="structure", disable=None if enabled else True, leave=False)
