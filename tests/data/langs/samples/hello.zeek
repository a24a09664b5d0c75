event zeek_init()
	{
	print "Hello, Zeek!";
	}
