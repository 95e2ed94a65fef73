"""Building blocks of the developer simulator (see ``standard_coder.sch.simulate``)."""
