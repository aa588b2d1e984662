"""Example Marquee plugin service: the upcoming events of venues, read from iCalendar feeds."""
