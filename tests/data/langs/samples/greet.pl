use v6;

sub greet(Str $name --> Str) {
    return "Hello, $name!";
}

my @names = <Ada Grace Linus>;
for @names -> $n {
    say greet($n);
}
