"""
Pages of a long listing, for the JSON endpoints: ``?page=2&per_page=50``.

A site with thousands of jobs or one-off runs must not answer megabytes at
once, nor let a request ask for them all.
"""

from django.core.paginator import EmptyPage, Paginator

from .inputs import BadInput

PER_PAGE = 100
MAX_PER_PAGE = 500


def _number(request, name: str, default: int, most: int | None = None) -> int:
    text = request.GET.get(name)
    if text is None:
        return default
    # ASCII digits, and few of them: "²" is a digit to str.isdigit(), and
    # int() refuses a string of thousands of digits.
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0
    if number < 1 or (most is not None and number > most):
        upper = f" up to {most}" if most is not None else ""
        raise BadInput(f"?{name}= takes a whole number from 1{upper}, not {text[:20]!r}.")
    return number


def page_of(request, items) -> tuple[list, dict]:
    """
    Return the page of ``items`` (a list or a queryset) that the request asks
    for, and what to say about it: count, page, pages, and the URLs of the
    next and previous pages (paths with their query). Raise BadInput for a page that is not there.
    """
    per_page = _number(request, "per_page", PER_PAGE, MAX_PER_PAGE)
    number = _number(request, "page", 1)
    paginator = Paginator(items, per_page)
    try:
        page = paginator.page(number)
    except EmptyPage:
        raise BadInput(f"There is no page {number}: there are {paginator.num_pages}.") from None

    def url(to):
        query = request.GET.copy()
        query["page"] = to
        # A path, not a URL: the Host header is the client's to choose.
        return f"{request.path}?{query.urlencode()}"

    return list(page.object_list), {
        "count": paginator.count,
        "page": number,
        "pages": paginator.num_pages,
        "next": url(number + 1) if page.has_next() else None,
        "previous": url(number - 1) if page.has_previous() else None,
    }
