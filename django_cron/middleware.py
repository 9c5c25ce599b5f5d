import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from .trigger import trigger


class CronMiddleware:
    """
    Run due jobs from the site's own traffic, after the response is sent.

    A request that finds nothing due costs one float comparison: no query, no
    cache round trip. Once per polling interval one request per process asks
    for a check, and the lock backend lets one process per interval through.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        response = self.get_response(request)
        if time.time() >= trigger.next_check and trigger.take_turn():
            trigger.after(response, request)
        return response

    async def __acall__(self, request):
        response = await self.get_response(request)
        if time.time() >= trigger.next_check and trigger.take_turn():
            trigger.after(response, request)
        return response
