#!/usr/bin/perl
use strict;
use warnings;

my %count;
while (my $line = <STDIN>) {
    chomp $line;
    $count{lc $_}++ for split /\W+/, $line;
}
for my $w (sort { $count{$b} <=> $count{$a} } keys %count) {
    printf "%6d %s\n", $count{$w}, $w;
}
