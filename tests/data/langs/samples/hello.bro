event bro_init()
	{
	print "Hello, Bro!";
	}
