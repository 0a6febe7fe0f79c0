"""Calendars: the week view, a personal iCalendar feed, .ics and vCard downloads."""
