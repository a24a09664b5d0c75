#include "inkey.ch"

FUNCTION Main()
   LOCAL cName := "World"
   LOCAL nKey
   ? "Hello, " + cName
   nKey := Inkey(0)
   RETURN NIL
