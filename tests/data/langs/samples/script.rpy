define e = Character("Eileen")

label start:
    scene bg room
    show eileen happy
    e "You've created a new Ren'Py game."
    menu:
        "Continue":
            jump chapter1
    return
