package Stack;
use strict;
use warnings;

sub new  { my $class = shift; return bless { items => [] }, $class }
sub push { my ($self, $x) = @_; push @{ $self->{items} }, $x; return $self }
sub pop  { my $self = shift; return pop @{ $self->{items} } }
sub size { scalar @{ $_[0]->{items} } }

1;
__END__
