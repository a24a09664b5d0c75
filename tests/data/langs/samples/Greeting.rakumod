unit module Greeting;
sub hello(Str $who) is export { say "Hello $who" }
