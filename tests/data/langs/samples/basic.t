use strict;
use warnings;
use Test::More tests => 3;

use_ok('Stack');
my $s = Stack->new;
$s->push(1)->push(2);
is($s->size, 2, 'two items');
is($s->pop, 2, 'pop returns last');
