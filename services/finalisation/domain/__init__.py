"""Pure domain of the finalisation service: invigilator space, finalisation, overdue rule and the
intake of Pix results. No I/O besides parsing the bytes it is given; no clock, no asyncio."""
