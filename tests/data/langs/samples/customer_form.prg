* Customer form class
DEFINE CLASS CustomerForm AS Form
    Caption = "Customers"
    ADD OBJECT txtName AS TextBox

    PROCEDURE Init
        LPARAMETERS tcName
        THISFORM.txtName.Value = tcName  && initial value
    ENDPROC
ENDDEFINE
