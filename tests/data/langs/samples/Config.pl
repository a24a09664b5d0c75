package Config::Simple;
use strict;
use warnings;

sub new {
    my ($class, %args) = @_;
    my $self = { file => $args{file}, data => {} };
    return bless $self, $class;
}

sub get {
    my ($self, $key) = @_;
    return $self->{data}{$key};
}

1;
