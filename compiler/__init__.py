"""The pure compiler: project text -> feature IR -> plans. Never imports skewless.runtime."""
